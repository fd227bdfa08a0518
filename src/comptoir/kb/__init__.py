"""Knowledge base: articles per desk, their versions and languages, feedback and deflection."""
