"""Text below the stages: character classes (``chars``), counts on UTF-8 bytes (``utf8``),
language identification (``langid``) and de-duplication keys (``dedup``)."""
