"""Domain services over the central store: registration, activities, hours, certificates,
statistics. They take a :class:`~gateway.services.context.ServiceContext` and plain data,
raise :mod:`gateway.services.errors`, and know nothing of HTTP."""
