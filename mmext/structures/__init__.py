"""mmext data structures (classification uses mmpretrain's
``DataSample``)."""
