// Whether this test binary runs under AddressSanitizer, whose allocator and start-up differ from a plain build's.
#pragma once

namespace normscale::testing {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUnderAddressSanitizer = true;  // GCC
#elif defined(__has_feature)
constexpr bool kUnderAddressSanitizer = __has_feature(address_sanitizer);  // clang
#else
constexpr bool kUnderAddressSanitizer = false;
#endif

}  // namespace normscale::testing
