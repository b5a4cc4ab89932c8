"""minimaria-chat: anonymous chat between young people and a MiniMaria clinic."""
