"""Training runs: model set-up, the training loop with resume, evaluation, and the train job (:mod:`.runs`)."""
