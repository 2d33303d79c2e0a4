"""The use cases that run in the functions: inference (one uploaded photo), dataset export, retention, the bounded sweep. They talk to the ports."""
