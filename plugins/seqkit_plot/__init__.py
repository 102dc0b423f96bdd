"""`seqkit plot`: pictures of word vectors, analogies, training curves and attention (optional extra `plot`)."""
