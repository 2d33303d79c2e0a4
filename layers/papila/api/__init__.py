"""The HTTP side: replies, request and response models, errors, OpenAPI, sign-in, and the screening and admin application services the Chalice routes call."""
