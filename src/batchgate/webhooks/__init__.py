"""Webhooks: tenants register endpoints; batch ends are delivered to them, signed, with retries.

`endpoints` → `service` → `repository` for the `/v1/webhook_endpoints` resource (`schemas` are
its wire shapes); `events` records deliveries inside the transaction that ends a batch
(`event_types` lists them); `delivery` is the loop each engine process runs to send them
(`sender` makes one signed POST, `signing` computes signatures, `schedule` says when to retry);
`commands` is the `batchgate webhooks` CLI.
"""
