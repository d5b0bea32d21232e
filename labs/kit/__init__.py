"""Code the kit gives students: the mocked LLM, the frozen clock, the DevOps tools, and the
public check-yourself helpers. None of it is an exercise; every lab builds on it."""
