"""seqkit-unigram: an example seqkit plugin (an add-k smoothed unigram language model)."""
