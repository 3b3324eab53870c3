"""04, the image: the Dockerfile, the linux/amd64 build, its checks and sizes, the registry push and digest pin,
the Docker daemon, baking the model into the image, and image archives."""
