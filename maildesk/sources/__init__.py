"""Where mail comes from: IMAP, an SMTP/LMTP listener, a pipe, an archive."""
