"""Reports for managers: the numbers (data.py) and one self-contained HTML page."""
