"""Wirexa: a self-hosted voice engine speaking the Twilio/SignalWire REST API and LaML."""

__version__ = "0.1.0"
