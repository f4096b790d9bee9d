"""The CAMS Biometrics Web API 3.0 wire format, free of Frappe.

Everything in this package runs (and is tested) without a Frappe site: LogTime parsing,
callback payloads, AES, the RESTful client and the gateway simulator.
"""
