"""Pure rules of tarlatamab therapy. Standard library only; time is always passed in, tz-aware."""
