"""Tjar webhooks: signature checks, the durable queue, the receiver, and event → partition."""
