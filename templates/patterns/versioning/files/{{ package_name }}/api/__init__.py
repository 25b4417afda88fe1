"""The versioned API: /api/v1, /api/v2, ... (the fastscaffold pattern `versioning`).

Each version is a package (``v1``, ``v2``) holding only its edge: request
and response models and the routes that translate them. The work happens in
one shared service layer (``users``), so a fix lands in every version at
once. ``versions.toml`` lists the versions and their lifecycle.
"""
