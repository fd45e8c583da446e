"""Looking at an output folder: its statistics, the run summary and `inspect` text, and the HTML
report."""
