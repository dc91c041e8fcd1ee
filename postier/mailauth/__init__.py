"""Mail authentication: DKIM signing today (SPF and DMARC verification later). Pure modules."""
