"""Query resolvers and the request-scoped dataloaders they read through."""
