# A Dockerfile with the mistakes TestLinterCatchesMistakes expects found.
from debian:latest as Build
MAINTAINER someone
RUN apt-get install -y libvips42
ENV PASSWORD secret
CMD /usr/bin/edgegate serve
