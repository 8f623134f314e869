"""Outbound calling, one package: the rules (`policy`), `config/outbound.toml` (`settings`),
queued callbacks and missed-call callbacks (漏接回拨, `callbacks`: the desk the runtime's owner
task drives; `callback_store`: their records read back at start), and satisfaction surveys
(回访: the dialer `surveys` and its storage `survey_store`)."""
