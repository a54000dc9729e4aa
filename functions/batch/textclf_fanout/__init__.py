"""Files bigger than one function: Step Functions Distributed Map over byte ranges (issue 14)."""
