# The kit in one image, built from this repository alone: labstack (`labstack serve`) and
# JupyterLab with the labs. docker-compose.yml runs both; `make lab` needs no image at all.
FROM python:3.11-slim

# git: CodeCommit and the labs' clones; builds run bash, python, pip, git and the AWS CLI.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /kit
# The pinned dependencies first, so editing the kit reuses this layer.
COPY pyproject.toml requirements.lock ./
RUN pip install --no-cache-dir --disable-pip-version-check -r requirements.lock
# The kit itself, editable: the grader finds labs/ and solutions/ beside its package.
COPY . .
RUN pip install --no-cache-dir --disable-pip-version-check --no-deps -e .

ENV LABSTACK_HOME=/kit/.labstack \
    LABSTACK_HOST=0.0.0.0 \
    LABSTACK_PORT=4566
EXPOSE 4566 8888
# The container's 0.0.0.0 is reached only through the ports you publish: publish them on 127.0.0.1
# (docker run -p 127.0.0.1:4566:4566), or serve a class with --learners FILE (docs/security.md).
CMD ["labstack", "serve", "--host", "0.0.0.0", "--port", "4566", "--insecure-shared"]
