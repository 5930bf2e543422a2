from tests import made as fixtures

made = fixtures.made  # the session's small study and model
