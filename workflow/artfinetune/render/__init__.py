"""Feature visualisation and maximal activations: Lucid renders of channels (:mod:`.renders`, on TensorFlow 2
through :mod:`.lucid_compat`), which channels to show (:mod:`.channels`), top-k mosaics (:mod:`.mosaics`) and a
channel gallery per model pair (:mod:`.gallery`, its page :mod:`.gallery_html`)."""
