"""Route families of the webmail; each module exports ``ROUTES``."""
