"""Validation: the hashed holdout, progressive validation, early stopping, and the
best constant predictor the final report compares against."""

from streamgd.validate.holdout import holdout_fraction_of, in_holdout, row_hash
from streamgd.validate.monitor import Validation

__all__ = ["Validation", "holdout_fraction_of", "in_holdout", "row_hash"]
