// Asio, its SSL support and Beast compiled once for the stand-in cluster.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
