"""Reports: result rows rendered as terminal tables and Markdown."""
