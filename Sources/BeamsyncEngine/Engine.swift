// Placeholder: the execution engine arrives with its issue.
