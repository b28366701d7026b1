"""Linear parameters, losses with exact gradients, penalties, class labels."""
