"""Social domain: posts, media, reactions, comments, follows, moderation and Explore."""
