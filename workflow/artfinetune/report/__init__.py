"""The report: the paper's claims judged on the study's outputs (:mod:`.findings`), the software record, the
findings page, and the study's status summary. Captions live with the items they describe."""
