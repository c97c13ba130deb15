"""The Codat API client: plain Python, no models, no views, nothing imported from the apps."""
