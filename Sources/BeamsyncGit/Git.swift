// Placeholder: the git source arrives with its issue.
