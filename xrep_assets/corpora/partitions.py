"""Corpus partitions: one per corpus x language pair of the catalog."""

import dagster as dg

from xrep_assets.study import CORPORA, LANGUAGE_PAIRS, Corpus, LanguagePair, corpus_named

corpus_pair_partitions = dg.MultiPartitionsDefinition(
    {
        "corpus": dg.StaticPartitionsDefinition(list(CORPORA)),
        "pair": dg.StaticPartitionsDefinition([p.key for p in LANGUAGE_PAIRS]),
    }
)


def corpus_pair_key(corpus: Corpus, pair: LanguagePair) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"corpus": corpus.key, "pair": pair.key})


def corpus_and_pair(key: dg.MultiPartitionKey) -> tuple[Corpus, LanguagePair]:
    dims = key.keys_by_dimension
    return corpus_named(dims["corpus"]), LanguagePair.parse(dims["pair"])
