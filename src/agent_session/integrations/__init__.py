"""Adapters that keep the sessions of agent frameworks in agent-session stores."""
