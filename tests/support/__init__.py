"""Test helpers: live servers on free 127.0.0.1 ports and a GraphQL client."""
