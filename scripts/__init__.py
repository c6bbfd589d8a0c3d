"""Project tooling: the PDF handout, the student and instructor editions, site helpers."""
