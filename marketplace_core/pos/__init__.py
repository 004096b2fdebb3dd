"""POS domain: the smart terminals in shops that ring up sales."""
