"""Publishing: verdict, tags and DLQ records, and the producer that writes them."""
