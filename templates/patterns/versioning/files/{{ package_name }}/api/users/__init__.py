"""Users: the service layer every API version shares."""
