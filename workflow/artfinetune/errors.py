"""The base of every error a user can cause and fix (bad config, dataset, download, graph)."""


class UserError(ValueError):
    """A mistake in the inputs: the message names the thing and what to do."""


class ConfigError(UserError):
    """A user-fixable mistake in the study configuration."""
