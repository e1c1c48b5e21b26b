"""The study: its config (schema, defaults, cross-reference checks), its vocabulary (models, pairs, channels) and
where every artifact lives. Every stage below reads a study through these modules, never the YAML itself."""
