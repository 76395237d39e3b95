"""Region and topic tagging (pure): the gazetteer and taxonomy data, and their matchers."""
