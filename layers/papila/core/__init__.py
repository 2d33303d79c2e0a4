"""The domain: records and their rules, key layout, imaging, disc location, the quality gate, heat maps, the screening pipeline and the ports. No AWS, database or web library."""
