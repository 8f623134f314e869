"""The hotline knowledge base: versioned, reviewed entries with expiry, Chinese full-text
search, suggestions during a call and the report of requests it does not answer."""
