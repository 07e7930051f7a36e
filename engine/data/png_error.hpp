#pragma once
// libpng's error plumbing, shared by the image reader (image_file.cpp) and the CIFAR-10 PNG
// converter (cifar_png.cpp). libpng reports errors by longjmp: on_png_error copies the message
// into the PngFailure given to png_create_read_struct as its error pointer and jumps back to
// the caller's setjmp, which must hold no C++ object that needs destroying; the C++ side then
// throws kestrel::Error with the message. Warnings (unknown ancillary chunks, bad ancillary
// CRCs) are ignored, as by most viewers.
#include <png.h>

#include <cstdio>

namespace kestrel::data {

struct PngFailure {
  char message[256] = {};
};

[[noreturn]] inline void on_png_error(png_structp png, png_const_charp message) {
  auto* failure = static_cast<PngFailure*>(png_get_error_ptr(png));
  std::snprintf(failure->message, sizeof failure->message, "%s", message);
  png_longjmp(png, 1);
}

inline void on_png_warning(png_structp, png_const_charp) {}

}  // namespace kestrel::data
